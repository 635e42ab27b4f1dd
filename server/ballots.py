"""The keys that seal secret ballots: derived from the server's secret, never stored.

The core records a secret vote under a ballot id, an HMAC of the poll and the voter under the
assembly's key (`facilitation.polls.ballot_id`). Only a holder of the server's secret can
link a ballot to a voter; the log, its snapshots, its export and a dump of the database
cannot. Changing the secret while a secret poll is open gives its voters new ballots, so a
vote changed after that would count twice: keep the secret, as invite links need anyway.
"""

import hashlib
import hmac

# Keeps these keys apart from anything else ever derived from the same secret.
BALLOT_KEY_LABEL = "ballot:"


def ballot_key(server_secret: str, assembly_id: str) -> bytes:
    """One key per assembly, so that ballots in one assembly's record tell nothing of another's."""
    label = f"{BALLOT_KEY_LABEL}{assembly_id}".encode()
    return hmac.new(server_secret.encode(), label, hashlib.sha256).digest()
