"""Forms of the operator's member support pages: a block or unblock with its
reason, and the erasure's typed confirmation. The look-up box is the merchant
console's too, in ``loyalty_web.design.member_pages``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class MemberStatusForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit log with your name, for example: card reported stolen."),
        error_messages={
            "required": _("Say why, for the member's record in the audit log"),
            "max_length": _("Keep the reason to 500 characters or fewer"),
        },
    )


class MemberEraseForm(forms.Form):
    confirmation = forms.CharField(
        label=_("Type the member number to confirm"),
        max_length=20,
        help_text=_("The 10 digits shown above. Erasure cannot be undone."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "inputmode": "numeric"}
        ),
        error_messages={"required": _("Type the member number to confirm the erasure")},
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Kept in the audit log with your name, for example: asked by letter of 2 December. "
            "Write no personal details here."
        ),
        error_messages={
            "required": _("Say why, for the member's record in the audit log"),
            "max_length": _("Keep the reason to 500 characters or fewer"),
        },
    )
