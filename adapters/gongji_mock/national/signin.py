"""9001 sign-in and 9002 sign-out: every other message carries the ``sign_no`` of a sign-in.

A sign-in is dated by the centre's Beijing day; the endpoint refuses it on a later day
where the mock's sign-ins last a day (``NationalEndpoint.sign_in_lasts``, the default).
"""

from __future__ import annotations

import secrets

from gongji import clock as beijing
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.records import SignIn
from gongji_mock.national.transform import Answer, decode_input, time_text, wrapped
from gongji_mock.national.wire import (
    RequestEnvelope,
    SignInInput,
    SignInOut,
    SignOutInput,
    SignOutOut,
)


def sign_in(office: Office, envelope: RequestEnvelope) -> Answer:
    sign_in = decode_input(envelope, SignInInput).sign_in
    now = office.centre.clock()
    sign_no = f"{beijing.msgid_time(now)}{secrets.token_hex(8).upper()}"
    day = beijing.day(now).isoformat()
    office.records.sign_ins.put(sign_no, SignIn(envelope.fixmedins_code, sign_in.opter_no, day))
    return Answer(wrapped(signinoutb=SignInOut(sign_time=time_text(now), sign_no=sign_no)))


def sign_out(office: Office, envelope: RequestEnvelope) -> Answer:
    sign_out = decode_input(envelope, SignOutInput).sign_out
    known = office.records.sign_ins.get(sign_out.sign_no)
    if known is None or known.fixmedins_code != envelope.fixmedins_code:
        raise CentreRefusal("签到编号不存在", "There is no such sign_no for this institution.")
    office.records.sign_ins.remove(sign_out.sign_no)
    return Answer(wrapped(signoutoutb=SignOutOut(sign_time=time_text(office.centre.clock()))))
