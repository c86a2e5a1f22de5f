"""Extension objects, bound to the app in create_app()."""

from __future__ import annotations

from typing import Any

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

from models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


class LecternTalisman(Talisman):
    """Flask-Talisman, with a Referrer-Policy of a view's own: `@talisman(referrer_policy="no-referrer")`
    on a page whose address is a secret (Talisman sets one policy for every page)."""

    def _set_response_headers(self, response: Any) -> Any:
        response = super()._set_response_headers(response)
        policy = self._get_local_options().get("referrer_policy")
        if policy:
            response.headers["Referrer-Policy"] = policy
        return response


talisman = LecternTalisman()
