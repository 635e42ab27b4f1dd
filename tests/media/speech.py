"""The fake microphones' sound: recorded speech made by espeak-ng, and silence (sox).

Chromium plays one file per browser process (`--use-file-for-fake-audio-capture`), looping.
Janus says someone talks when the average of the audio levels the browser puts in each 20 ms
packet (-dBov, 127 for silence), over 25 packets (0.5 s), is under 25; and stopped when a
window's average is not. An average of decibels is pulled far up by a few quiet packets: as
espeak-ng speaks it (pauses cut to 80 ms, -21 dBFS RMS), only 4 windows in 19 counted as
talking, so a 20 s turn would have been voiced for a few seconds. What the fake microphone
plays is therefore continuous talk: no word gaps, every pause over 10 ms cut, and the
dynamics compressed (sox `compand`) to about -15 dBFS RMS, so that every window averages
about 15 (measured through Chromium and Janus: one unbroken stretch of talk per turn), as a
person talking steadily close to their microphone would.
"""

import shutil
import subprocess
from pathlib import Path

SPEECH_TEXT = (
    "Our rents rose by a third in five years, and the small flats that young families need "
    "are the ones that nobody builds any more, so people move away from the town where they "
    "grew up, and the schools close one after the other."
)
RATE_HZ = 48_000
TOOL_SECONDS = 60


def missing_tools() -> list[str]:
    return [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=TOOL_SECONDS)


def make_speech(folder: Path) -> Path:
    """Continuous speech, mono 16-bit 48 kHz, compressed, peaks at -1 dBFS."""
    raw = folder / "speech-raw.wav"
    speech = folder / "speech.wav"
    _run("espeak-ng", "-v", "en", "-s", "165", "-g", "0", "-a", "120", "-w", str(raw), SPEECH_TEXT)
    _run(
        "sox",
        str(raw),
        "-b",
        "16",
        str(speech),
        # Keep at most 10 ms of anything below 4% of full scale.
        "silence",
        "-l",
        "1",
        "0.01",
        "4%",
        "-1",
        "0.01",
        "4%",
        "rate",
        str(RATE_HZ),
        # Fast attack, short release; sounds from -60 dB up raised to -9 dB and above.
        "compand",
        "0.001,0.03",
        "-90,-90,-60,-9,-30,-6,0,-4",
        "-3",
        "gain",
        "-n",
        "-1",
    )
    return speech


def make_silence(folder: Path, seconds: int = 5) -> Path:
    silence = folder / "silence.wav"
    _run(
        "sox",
        "-n",
        "-r",
        str(RATE_HZ),
        "-c",
        "1",
        "-b",
        "16",
        str(silence),
        "trim",
        "0",
        str(seconds),
    )
    return silence
