"""Extension objects, bound to the app in create_app()."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

from models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
talisman = Talisman()
# Limits are declared on the views that need them; none applies by default.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
