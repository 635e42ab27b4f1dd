"""The names palabre gives things in Janus, and the refusal voice requests end with."""

# Janus ids of palabre's rooms and people: `<assembly>/<room>`, `<assembly>/<participant>`
# (assembly ids never hold a slash), so rooms of different assemblies never meet.
SEPARATOR = "/"


def janus_id(assembly_id: str, name: str) -> str:
    return f"{assembly_id}{SEPARATOR}{name}"


def palabre_id(identifier: str) -> tuple[str, str]:
    assembly_id, _, name = identifier.partition(SEPARATOR)
    return assembly_id, name


class VoiceRefused(Exception):
    """A voice request refused: `code` is the ack's stable error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
