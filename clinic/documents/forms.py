"""Document and consent pages' forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from clinic.documents.models import DocumentKind, SignatureMethod


class UploadForm(FlaskForm):
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice(k.value, k.value.replace("_", " ").capitalize()) for k in DocumentKind
        ],
    )
    file = FileField("File (PDF, PNG or JPEG)", validators=[FileRequired()])


class ConsentForm(FlaskForm):
    signer_name = StringField(
        "Your full name",
        validators=[InputRequired(), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    method = RadioField(
        "How do you sign?",
        choices=[
            SelectChoice(SignatureMethod.DRAWN.value, "Draw my signature"),
            SelectChoice(SignatureMethod.TYPED.value, "Type my name"),
        ],
        default=SignatureMethod.DRAWN.value,
    )
    typed_signature = StringField("Type your name to sign", validators=[Length(max=200)])
    drawn_signature = HiddenField()
