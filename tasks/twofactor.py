"""Two-factor login with TOTP (django-otp): enrolment, verification, the QR code (issue 9).

One TOTP device per account, named "default". Enrolment is possible only while the account has no
confirmed device: with one, a lost phone is reset by an administrator (delete the device in the admin,
"TOTP devices"), so a stolen password alone never enrols a second phone.

Nor does it enrol the first one: the enrolment page shows a secret only to a session that proved it
belongs to the owner, by the activation code (the activation page continues into enrolment) or by an
enrolment code from the administrator (`manage.py issue_enrolment_code USERNAME`). Each grant starts
with a fresh secret, so a secret shown to anyone earlier is worthless.
"""

from __future__ import annotations

import time
from base64 import b32encode

import segno
from django.db import transaction
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "default"
# The session key holding the id of the account allowed to enrol in this session.
ENROL_GRANT_KEY = "otp_enrol_grant"


def enrolment_grant(request, user) -> None:
    """This session may enrol `user`'s authenticator: the owner proved it with a one-time code."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    request.session[ENROL_GRANT_KEY] = user.pk


def may_enrol(request) -> bool:
    return request.session.get(ENROL_GRANT_KEY) == request.user.pk


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first call; its secret stays until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=DEVICE_NAME).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def secret_base32(device: TOTPDevice) -> str:
    """The secret as people type it into an authenticator app, in groups of four."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code (no outside service, no inline style)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2)


def verify(request, device: TOTPDevice, token: str) -> bool:
    """Check `token` on `device` (throttled by django-otp; a code is accepted once) and, when right,
    mark the session verified through django_otp.login. Confirms an enrolling device."""
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit():
        return False
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if locked.user_id != request.user.pk or not locked.verify_token(token):
            return False
        if not locked.confirmed:
            locked.confirmed = True
            locked.save(update_fields=["confirmed"])
            # Enrolling replaces any other unconfirmed device of the account.
            TOTPDevice.objects.filter(user_id=locked.user_id, confirmed=False).delete()
    request.session.pop(ENROL_GRANT_KEY, None)
    # A new session key at the privilege change (as Django does at login).
    request.session.cycle_key()
    otp_login(request, locked)
    return True


def verify_token_for_user(user, token: str) -> TOTPDevice | None:
    """Check a code without a session (the API token endpoint). Throttled and single-use as above."""
    token = (token or "").strip().replace(" ", "")
    device = confirmed_device(user)
    if device is None or not token.isdigit():
        return None
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        return locked if locked.verify_token(token) else None


def current_code(device: TOTPDevice, *, unused: bool = True) -> str:
    """The code the device's app shows now (demo `totp_code` command and tests). With `unused`, the
    code of the first time step the device will still accept (a code is accepted only once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if unused and totp.t() <= device.last_t:
        totp.time = device.t0 + (device.last_t + 1) * device.step
    return str(totp.token()).zfill(device.digits)


def ensure_confirmed_device(user) -> TOTPDevice:
    """A confirmed device for `user` (demo seeding, tests)."""
    device = confirmed_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=True)
    return device
