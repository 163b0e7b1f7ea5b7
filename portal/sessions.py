"""Django's database sessions, whose row may already have been read with the data generation.

Every logged-in page reads the data generation first (`pagecache.GenerationMiddleware`, ADR 0025)
and then, when something asks for the user, the session row: two round trips, the second one built
by the ORM each time (issue 17, part 5). `GenerationMiddleware` reads both in one statement and
hands the row to the session here; the session is then decoded as Django decodes it, and a row
that was missing or expired starts an empty session, as Django's `load` does. Everything else
(saving, rotating the key, deleting, expiry) is Django's own.
"""

from django.contrib.sessions.backends import db


class SessionStore(db.SessionStore):
    _read_already = None  # (session key, its data or None) from `read_with`, used once

    def read_with(self, session_key, data) -> None:
        """The row of `session_key` as read elsewhere: its `session_data`, or None if there is none
        unexpired. Used by the next `load` if the session still has that key."""
        self._read_already = (session_key, data)

    def load(self):
        read, self._read_already = self._read_already, None
        if read is None or read[0] != self.session_key:
            return super().load()
        if read[1] is None:  # missing or expired: what _get_session_from_db does
            self._session_key = None
            return {}
        return self.decode(read[1])
