"""The organizer area's forms (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional, Regexp

from blueprints.forms import LecternForm, LecternSubform
from models import TalkStatus
from services.text import one_line_each

PLATFORMS = [
    SelectChoice("", "None (in the room only)"),
    SelectChoice("Zoom", "Zoom"),
    SelectChoice("Google Meet", "Google Meet"),
    SelectChoice("Microsoft Teams", "Microsoft Teams"),
    SelectChoice("Online", "Other (a link you share)"),
]
STATUSES = [
    SelectChoice(TalkStatus.SCHEDULED.value, "Scheduled"),
    SelectChoice(TalkStatus.TENTATIVE.value, "To be confirmed"),
    SelectChoice(TalkStatus.CANCELLED.value, "Cancelled"),
]
OPTIONAL_URL = [Optional(), URL(require_tld=False, message="Give a full address starting with https://.")]


class PartForm(LecternSubform):
    """One presentation of the talk; a talk with several (intern sessions) repeats this."""

    title = StringField("Part title (only when a talk has several parts)", validators=[Length(max=500)])
    speakers = TextAreaField(
        "Speakers",
        # One speaker a line: each line one line, however it was broken.
        filters=[one_line_each],
        description="One a line: Name | Affiliation | Link. Affiliation and link are optional. "
        "Leave empty for a group discussion.",
    )
    abstract_md = TextAreaField("Abstract", description="Markdown.")
    bio_md = TextAreaField("Speaker bio", description="Markdown.")


class TalkForm(LecternForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=500)])
    slug = StringField(
        "Address",
        description="The end of the talk's address, /talks/…; leave empty to make one from the title.",
        validators=[
            Optional(),
            Length(max=180),
            Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message="Lower-case letters, digits and dashes only."),
        ],
    )
    day = DateField("Date", validators=[DataRequired(message="Give the date of the talk.")])
    start = TimeField("Start time", validators=[DataRequired(message="Give the time the talk starts.")])
    minutes = IntegerField("Length in minutes", validators=[DataRequired(), NumberRange(5, 24 * 60)])
    room = SelectField("Room", coerce=int)
    online_platform = SelectField("Online", choices=PLATFORMS)
    semester = SelectField("Semester", coerce=int)
    status = SelectField("Status", choices=STATUSES)
    published = BooleanField("Published (shown to the public)")
    intro_md = TextAreaField("Introduction", description="Markdown, shown above the abstract.")
    parts = FieldList(FormField(PartForm), min_entries=1, max_entries=12)
    room_capacity = IntegerField(
        "Room capacity",
        description="Seats for this talk; leave empty to use the room's own capacity.",
        validators=[Optional(), NumberRange(min=0, max=100000)],
    )
    online_limit = IntegerField(
        "Online places",
        description="Leave empty for no limit.",
        validators=[Optional(), NumberRange(min=1, max=100000)],
    )
    rsvp_open = BooleanField("Sign-up open")
    rsvp_closes_at = DateTimeLocalField(
        "Sign-up closes",
        description="Leave empty to close when the talk starts.",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
    )
    ask_affiliation = BooleanField("Ask for an affiliation")
    ask_question = BooleanField("Ask for a question for the speaker")
    paper_url = URLField("Paper", validators=OPTIONAL_URL)
    slides_url = URLField("Slides", validators=OPTIONAL_URL)
    recording_url = URLField("Recording", validators=OPTIONAL_URL)
    preview = SubmitField("Preview")
    add_part = SubmitField("Add a part")
    save = SubmitField("Save")


class ConfirmForm(LecternForm):
    """A state-changing button: a form with only a submit button, so it is a CSRF-checked POST."""

    submit = SubmitField("Confirm")


class RoomForm(LecternForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    capacity = IntegerField("Capacity", validators=[Optional(), NumberRange(min=1, max=100000)])
    directions = TextAreaField(
        "Directions",
        description="How a visitor finds the room: building, floor, entrance.",
        validators=[Length(max=4000)],
    )
    submit = SubmitField("Save room")


class ImportForm(LecternForm):
    post = FileField("Jekyll post (.md)", validators=[FileRequired(message="Choose a post file to import.")])
    site_url = URLField("Old site's address (to resolve /assets/… images)", validators=OPTIONAL_URL)
    submit = SubmitField("Import")


class SiteImportForm(LecternForm):
    archive = FileField(
        "The site's pages, as a .zip",
        description="Zip the folder that holds the talk pages (_posts, _talks, content/…) or the whole site; "
        "images are not needed.",
        validators=[
            FileRequired(message="Choose a .zip of the site's pages."),
            FileAllowed(["zip"], "Choose a .zip file."),
        ],
    )
    old_site = URLField("Old site's address (to resolve /assets/… images)", validators=OPTIONAL_URL)
    format = SelectField(
        "Written with",
        choices=[
            SelectChoice("auto", "Tell from the files"),
            SelectChoice("jekyll", "Jekyll"),
            SelectChoice("hugo", "Hugo"),
            SelectChoice("wowchemy", "Hugo Academic / Wowchemy"),
        ],
        default="auto",
    )
    submit = SubmitField("Read the site")


class SeriesForm(LecternForm):
    name = StringField("Series name", validators=[DataRequired(), Length(max=200)])
    timezone = StringField(
        "Time zone", description="An IANA name such as America/Montreal.", validators=[DataRequired(), Length(max=64)]
    )
    default_minutes = IntegerField("Default talk length in minutes", validators=[DataRequired(), NumberRange(5, 1440)])
    default_room = SelectField("Default room", coerce=int)
    contact_email = EmailField(
        "Contact address", validators=[Optional(), Email(check_deliverability=False), Length(max=254)]
    )
    description = TextAreaField("Description", validators=[Length(max=4000)])
    rsvp_domains = StringField(
        "Who may sign up",
        description="Email domains, comma-separated (e.g. mcgill.ca, mila.quebec); subdomains count. "
        "Leave empty to let anyone sign up.",
        validators=[Length(max=2000)],
    )
    announce_lists = TextAreaField(
        "Mailing lists for announcements",
        description="The addresses a talk's announcement is sent to, one a line or separated by commas. "
        "It is sent from the contact address above: many lists take posts only from their members.",
        validators=[Length(max=4000)],
        render_kw={"rows": 3},
    )
    announce_template = TextAreaField(
        "Announcement template",
        description="The first line is the subject. Markdown: **bold**, *italics*, <https://…> for a link; "
        "a line break stays a line break. Leave empty for Lectern's default.",
        validators=[Length(max=20000)],
        render_kw={"rows": 24, "spellcheck": "false", "class": "code"},
    )
    announce_reset = BooleanField("Reset to Lectern's default template (your changes to it are discarded)")
    submit = SubmitField("Save settings")


class AnnounceForm(LecternForm):
    """Send a talk's announcement to the series' lists; once sent, again only when ticked."""

    send_again = BooleanField("Send again")
    submit = SubmitField("Send to the lists")


class WalkInForm(LecternForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email (optional)", validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    submit = SubmitField("Add walk-in")


class InviteForm(LecternForm):
    email = EmailField("Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    submit = SubmitField("Invite")
