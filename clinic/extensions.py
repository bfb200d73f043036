"""Extensions are created once here and bound to an app in `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from clinic.db import Base

db = SQLAlchemy(model_class=Base)
# What every model subclasses. Flask-SQLAlchemy builds `db.Model` at run time (the base plus
# its bind and table-name mixins); a type checker cannot see through that attribute, so it
# is shown the declarative base itself.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
