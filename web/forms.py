"""Flask-WTF forms: CSRF on every form, server-side validation with clear messages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DecimalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from web.services.accounts import AccountError, normalize_email


class UsableEmail:
    """Validate (and normalize) an address with ``web.services.accounts.normalize_email``.

    The same rule as ``backprop user add`` (through ``create_user``): an account the CLI
    creates can sign in, and an address the form refuses the CLI refuses too.
    """

    field_flags = {"maxlength": 254}

    def __call__(self, form: FlaskForm, field: EmailField) -> None:
        try:
            field.data = normalize_email(field.data or "")
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class Finite:
    """Stop a number that is not finite (NaN, sNaN, infinity) before range validators, which
    would crash on it."""

    def __call__(self, form: FlaskForm, field) -> None:
        value = field.data
        if value is not None and hasattr(value, "is_finite") and not value.is_finite():
            field.errors[:] = []
            raise StopValidation("Enter a number.")


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), UsableEmail()])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), UsableEmail()])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    course = StringField("Course join code", validators=[DataRequired(), Length(max=40)])
    student_id = StringField("Student ID (if your instructor listed you with one)",
                             validators=[Optional(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password",
                            validators=[EqualTo("password", "The passwords differ.")])


class JoinForm(FlaskForm):
    course = StringField("Course join code", validators=[DataRequired(), Length(max=40)])


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


class ConfirmForm(FlaskForm):
    """A button-only form: CSRF for a POST that changes something (archive, remove, …)."""


class CourseForm(FlaskForm):
    code = StringField("Course code", validators=[DataRequired(), Length(max=40)],
                       description="Letters, digits, - _ . (e.g. CS231-2026)")
    title = StringField("Title", validators=[Optional(), Length(max=200)])


class CourseTitleForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])


class AssignmentForm(FlaskForm):
    """An assignment's settings; times are typed in the viewer's zone (``tz``, see
    web.times) and validated together by web.services.courses."""

    exercise = SelectField("Exercise", validators=[DataRequired()])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    opens_at = StringField("Opens", validators=[Optional(), Length(max=40)],
                           render_kw={"type": "datetime-local"})
    deadline = StringField("Deadline", validators=[Optional(), Length(max=40)],
                           render_kw={"type": "datetime-local"})
    tz = HiddenField()
    late_policy = SelectField("Late policy", choices=[
        SelectChoice("refuse", "refuse after the deadline"),
        SelectChoice("accept", "accept and mark late"),
        SelectChoice("penalty", "penalty per started day late")])
    late_penalty = DecimalField("Penalty per day (%)", places=None,
                                validators=[Optional(), Finite(), NumberRange(0, 100)])
    cutoff_days = IntegerField("Cut-off (days after the deadline)",
                               validators=[Optional(), NumberRange(0, 365)])
    max_submissions = IntegerField("Max submissions", validators=[Optional(),
                                                                  NumberRange(1, 10_000)])
    min_interval_seconds = IntegerField("Minimum interval (seconds)", default=0,
                                        validators=[Optional(), NumberRange(0, 86_400)])
    scoring = SelectField("Scoring", choices=[
        SelectChoice("strict", "strict: every tensor must match autograd"),
        SelectChoice("carry_forward", "error carried forward")])
    shape_rule = SelectField("Shape rule", choices=[
        SelectChoice("strict", "strict: (64,) for (1, 64) is wrong"),
        SelectChoice("values", "values count: right values after a reshape earn the points")])
    counted = SelectField("Counted submission", choices=[
        SelectChoice("best", "best"), SelectChoice("last", "last")])


class ExtensionForm(FlaskForm):
    email = EmailField("Student e-mail", validators=[DataRequired(), UsableEmail()])
    deadline = StringField("Personal deadline", validators=[DataRequired(), Length(max=40)],
                           render_kw={"type": "datetime-local"})
    tz = HiddenField()
