"""Forms of the operator's member support pages: the look-up box, a block or
unblock with its reason, and the erasure's typed confirmation."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class MemberLookupForm(forms.Form):
    q = forms.CharField(
        label=_("E-mail, member number or card number"),
        max_length=254,
        help_text=_("Type it as the member gives it to you, for example 1234567890."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Enter an e-mail address, a member number or a card number")},
    )


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
