"""What an organiser does before and around a session: create an assembly, import people,
hand out invite links, withdraw them, export the record. Shared by the CLI and the HTTP API."""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from facilitation import SYSTEM_ACTOR, Role
from facilitation.commands import AddParticipant
from facilitation.record import EXPORT_FORMAT, verify_chain
from server.hub import Hub
from server.invites import Invites
from server.runtime import Outcome

# Columns of an import file that are not balancing attributes.
RESERVED_COLUMNS = {"id", "name", "role"}
ASSEMBLY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class ImportProblem(ValueError):
    """An import file that cannot be read, with the line at fault."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: Role = Role.JUROR
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IssuedLink:
    invite_id: str
    participant: str | None
    name: str
    role: str
    link: str
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "invite_id": self.invite_id,
            "participant": self.participant,
            "name": self.name,
            "role": self.role,
            "link": self.link,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class ImportResult:
    links: list[IssuedLink]
    # (participant id, error code, detail) for each person refused by the core.
    refused: list[tuple[str, str, str]]


def parse_people(text: str) -> list[Person]:
    """People from CSV: `id,name,role` then any attribute columns (age band, region, ...)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or []]
    if "name" not in columns:
        raise ImportProblem("line 1: the header needs at least a `name` column")
    people = []
    for line, row in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            raise ImportProblem(f"line {line}: more values than columns")
        name = values.get("name", "")
        if not name:
            raise ImportProblem(f"line {line}: the name is empty")
        try:
            role = Role(values.get("role") or Role.JUROR.value)
        except ValueError:
            raise ImportProblem(f"line {line}: unknown role {values.get('role')!r}") from None
        person_id = values.get("id") or f"p{line - 1}"
        attributes = {k: v for k, v in values.items() if k not in RESERVED_COLUMNS and k}
        people.append(Person(person_id, name, role, attributes))
    return people


class Organiser:
    def __init__(self, hub: Hub, invites: Invites) -> None:
        self.hub = hub
        self.invites = invites

    async def create_assembly(
        self, assembly_id: str, title: str, *, public: bool = True, pseudonymous: bool = False
    ) -> Outcome:
        if not ASSEMBLY_ID.fullmatch(assembly_id):
            return Outcome(False, error="invalid_assembly", detail="lowercase letters, digits, -")
        return await self.hub.create(assembly_id, title, public=public, pseudonymous=pseudonymous)

    async def add_people(self, assembly_id: str, people: list[Person]) -> ImportResult:
        """Add each person and give them an invite; a refused person gets no link."""
        runtime = await self.hub.get(assembly_id)
        if runtime is None:
            raise LookupError(assembly_id)
        links, refused = [], []
        for person in people:
            command = AddParticipant(
                participant=person.id,
                display_name=person.name,
                role=person.role,
                attributes=person.attributes,
            )
            outcome = await runtime.submit(command, SYSTEM_ACTOR)
            if not outcome.ok:
                refused.append((person.id, outcome.error, outcome.detail))
                continue
            links.append(await self._issue(assembly_id, person.id, person.name, person.role))
        return ImportResult(links, refused)

    async def observer_link(self, assembly_id: str) -> IssuedLink:
        """A link for press, public or researchers: read-only, for private assemblies too."""
        if assembly_id not in await self.hub.store.assembly_ids():
            raise LookupError(assembly_id)
        return await self._issue(assembly_id, None, "Observer", Role.OBSERVER)

    async def links(self, assembly_id: str) -> list[IssuedLink]:
        """Every live invite's link again, derived from its id: tokens themselves are not kept."""
        names = await self.hub.look(
            assembly_id, lambda state: {p.id: p.display_name for p in state.participants.values()}
        )
        if names is None:
            raise LookupError(assembly_id)
        now = datetime.now(UTC)
        return [
            IssuedLink(
                invite.id,
                invite.participant_id,
                names.get(invite.participant_id or "", "Observer"),
                invite.role,
                self.invites.link(self.invites.token(invite.id)),
                invite.expires_at,
            )
            for invite in await self.hub.store.invites(assembly_id)
            if invite.revoked_at is None and invite.expires_at > now
        ]

    async def revoke(self, invite_id: str) -> bool:
        """Withdraw an invite: refused from now on, and whoever uses it now is shown out (on
        every process of a server; the CLI has nobody to show out)."""
        if not await self.hub.store.revoke_invite(invite_id, datetime.now(UTC)):
            return False
        await self.hub.revoked(invite_id)
        return True

    async def export(self, assembly_id: str) -> dict[str, Any]:
        """The whole record, each event's stored body verbatim with its hash chain, verifiable
        offline (`palabre verify`); docs/record.md describes it."""
        if assembly_id not in await self.hub.store.assembly_ids():
            raise LookupError(assembly_id)
        records = [stored.record() for stored in await self.hub.store.events(assembly_id)]
        return {
            "format": EXPORT_FORMAT,
            "assembly": assembly_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "records": records,
            "problems": verify_chain(records),
        }

    async def _issue(
        self, assembly_id: str, participant: str | None, name: str, role: Role
    ) -> IssuedLink:
        invite, token = await self.invites.issue(
            assembly_id, participant, role, now=datetime.now(UTC)
        )
        return IssuedLink(
            invite.id, participant, name, role.value, self.invites.link(token), invite.expires_at
        )
