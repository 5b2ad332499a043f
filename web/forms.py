"""Flask-WTF forms: CSRF on every form, server-side validation with clear messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from web.accounts import AccountError, normalize_email


class UsableEmail:
    """Validate (and normalize) an address with ``web.accounts.normalize_email``.

    The same rule as ``backprop user add`` (through ``create_user``): an account the CLI
    creates can sign in, and an address the form refuses the CLI refuses too.
    """

    field_flags = {"maxlength": 254}

    def __call__(self, form: FlaskForm, field: EmailField) -> None:
        try:
            field.data = normalize_email(field.data or "")
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), UsableEmail()])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), UsableEmail()])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    course = StringField("Course code", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password",
                            validators=[EqualTo("password", "The passwords differ.")])


class JoinForm(FlaskForm):
    course = StringField("Course code", validators=[DataRequired(), Length(max=40)])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat new password",
                            validators=[EqualTo("password", "The passwords differ.")])


class SubmitForm(FlaskForm):
    code = TextAreaField("Your backward pass", validators=[Optional()])
    upload = FileField("…or upload a .py file")


class ScoringForm(FlaskForm):
    """An instructor's choice of how an assignment counts a submission."""

    scoring = SelectField("Scoring", choices=[
        SelectChoice("strict", "strict",
                     render_kw={"title": "every tensor must match autograd"}),
        SelectChoice("carry_forward", "error carried forward",
                     render_kw={"title": "a tensor earns its points when it is right given "
                                         "the student's own upstream gradients"}),
    ], validators=[DataRequired()])
