"""The audio of the voice benchmark: recorded speech made by espeak-ng, Opus frames made from it
by the libopus that Janus itself links (through ctypes: no new dependency), and the RTP packets
that carry them.

The speech is encoded once, before the run, so the load generator only copies bytes while
Janus is measured. A fake participant sends 20 ms frames as a browser does (Opus in RTP, one
packet every 20 ms); the listeners send encoded silence, as a browser's muted microphone still
does, and the probe listeners decode the mix they receive to tell speech from silence.
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import math
import operator
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

# Opus's and WebRTC's clock: 48 kHz, so a 20 ms frame advances the RTP timestamp by 960.
CLOCK_HZ = 48_000
FRAME_MS = 20
FRAME_SAMPLES = CLOCK_HZ * FRAME_MS // 1000
# From opus_defines.h: the application a microphone's encoder uses, and the request that sets
# its bitrate.
OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE_REQUEST = 4002
# The largest Opus packet a 20 ms frame can give (RFC 6716 bounds a frame at 1275 bytes).
MAX_PACKET_BYTES = 1_500
RTP_VERSION = 2
RTP_HEADER = struct.Struct("!BBHII")
# A sentence of a deliberation, long enough that the loop is not heard every few seconds.
SPEECH_TEXT = (
    "I think the council should keep the library open on Sundays. Many people work all week, "
    "and the weekend is the only time they can bring their children. If the budget is short, "
    "we could close one evening instead, when fewer people come."
)
# espeak-ng speaks 22,050 Hz mono; this is its voice and pace.
ESPEAK_VOICE = "en"
ESPEAK_WORDS_PER_MINUTE = "150"
ESPEAK_SECONDS = 30.0
# Full scale of 16-bit PCM, for levels in dBFS.
FULL_SCALE = 32_768.0


class OpusUnavailable(Exception):
    """No libopus on this machine (Janus's AudioBridge links it, so it comes with Janus)."""


class SpeechUnavailable(Exception):
    """espeak-ng is not installed, or failed."""


def _libopus() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        library = ctypes.CDLL(name)
    except OSError as error:
        raise OpusUnavailable(f"libopus could not be loaded ({name}): {error}") from None
    library.opus_encoder_create.restype = ctypes.c_void_p
    library.opus_encoder_create.argtypes = [
        ctypes.c_int32,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
    ]
    library.opus_encode.restype = ctypes.c_int32
    library.opus_encode.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int16),
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int32,
    ]
    library.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    library.opus_decoder_create.restype = ctypes.c_void_p
    library.opus_decoder_create.argtypes = [
        ctypes.c_int32,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
    ]
    library.opus_decode.restype = ctypes.c_int
    library.opus_decode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int32,
        ctypes.POINTER(ctypes.c_int16),
        ctypes.c_int,
        ctypes.c_int,
    ]
    library.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return library


def speech_pcm(folder: Path) -> array.array[int]:
    """About 15 s of speech, 16-bit mono at CLOCK_HZ, spoken by espeak-ng into `folder`."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SpeechUnavailable("espeak-ng is not installed (`apt-get install espeak-ng`)")
    path = folder / "speech.wav"
    try:
        subprocess.run(
            [espeak, "-v", ESPEAK_VOICE, "-s", ESPEAK_WORDS_PER_MINUTE, "-w", str(path)],
            input=SPEECH_TEXT.encode(),
            check=True,
            capture_output=True,
            timeout=ESPEAK_SECONDS,
        )
    except (subprocess.SubprocessError, OSError) as error:
        raise SpeechUnavailable(f"espeak-ng failed: {error}") from None
    with wave.open(str(path), "rb") as recording:
        if recording.getsampwidth() != 2 or recording.getnchannels() != 1:
            raise SpeechUnavailable("espeak-ng did not write 16-bit mono")
        rate = recording.getframerate()
        samples = array.array("h", recording.readframes(recording.getnframes()))
    return resampled(samples, rate, CLOCK_HZ)


def resampled(samples: array.array[int], rate: int, target: int) -> array.array[int]:
    """Linear interpolation from `rate` to `target` Hz: plenty for a load test's speech."""
    if rate == target or not samples:
        return array.array("h", samples)
    count = len(samples) * target // rate
    out = array.array("h", bytes(2 * count))
    last = len(samples) - 1
    for index in range(count):
        position = index * rate / target
        left = min(int(position), last)
        right = min(left + 1, last)
        fraction = position - left
        out[index] = round(samples[left] * (1 - fraction) + samples[right] * fraction)
    return out


def opus_frames(pcm: array.array[int], bitrate_bps: int) -> list[bytes]:
    """`pcm` (mono, CLOCK_HZ) cut into 20 ms frames, each encoded as one Opus packet at
    `bitrate_bps`, with one encoder over the whole recording as a microphone's would be."""
    opus = _libopus()
    error = ctypes.c_int(0)
    encoder = opus.opus_encoder_create(CLOCK_HZ, 1, OPUS_APPLICATION_VOIP, ctypes.byref(error))
    if not encoder or error.value != 0:
        raise OpusUnavailable(f"opus_encoder_create failed with {error.value}")
    try:
        # A variadic call: ctypes passes the two ints as C ints.
        status = opus.opus_encoder_ctl(
            ctypes.c_void_p(encoder), OPUS_SET_BITRATE_REQUEST, ctypes.c_int32(bitrate_bps)
        )
        if status != 0:
            raise OpusUnavailable(f"opus_encoder_ctl(OPUS_SET_BITRATE) failed with {status}")
        frames = []
        out = ctypes.create_string_buffer(MAX_PACKET_BYTES)
        for start in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            chunk = (ctypes.c_int16 * FRAME_SAMPLES).from_buffer_copy(
                pcm[start : start + FRAME_SAMPLES].tobytes()
            )
            size = opus.opus_encode(encoder, chunk, FRAME_SAMPLES, out, MAX_PACKET_BYTES)
            if size < 0:
                raise OpusUnavailable(f"opus_encode failed with {size}")
            frames.append(out.raw[:size])
        return frames
    finally:
        opus.opus_encoder_destroy(encoder)


def silence_frames(count: int, bitrate_bps: int) -> list[bytes]:
    """Encoded digital silence, as a muted microphone's browser still sends it."""
    return opus_frames(array.array("h", bytes(2 * FRAME_SAMPLES * count)), bitrate_bps)


class OpusDecoder:
    """Decodes received Opus packets to 16-bit mono at CLOCK_HZ and keeps their level."""

    def __init__(self) -> None:
        self._opus = _libopus()
        error = ctypes.c_int(0)
        self._decoder = self._opus.opus_decoder_create(CLOCK_HZ, 1, ctypes.byref(error))
        if not self._decoder or error.value != 0:
            raise OpusUnavailable(f"opus_decoder_create failed with {error.value}")
        # Room for the longest Opus frame (120 ms).
        self._capacity = CLOCK_HZ * 120 // 1000
        self._pcm = (ctypes.c_int16 * self._capacity)()
        self.squares = 0.0
        self.samples = 0
        self.failures = 0

    def decode(self, payload: bytes) -> None:
        if not self._decoder:
            return
        count = self._opus.opus_decode(
            self._decoder, payload, len(payload), self._pcm, self._capacity, 0
        )
        if count < 0:
            self.failures += 1
            return
        decoded = memoryview(self._pcm).cast("B").cast("h")[:count]
        self.squares += float(sum(map(operator.mul, decoded, decoded)))
        self.samples += count

    def take_level(self) -> float:
        """The RMS level of what was decoded since the last call, in dBFS (-inf: silence
        or nothing), and start again."""
        rms = math.sqrt(self.squares / self.samples) if self.samples else 0.0
        self.squares = 0.0
        self.samples = 0
        return 20 * math.log10(rms / FULL_SCALE) if rms > 0 else -math.inf

    def close(self) -> None:
        if self._decoder:
            self._opus.opus_decoder_destroy(self._decoder)
            self._decoder = None


@dataclass
class RtpSender:
    """One fake participant's outgoing RTP stream: its own SSRC, sequence and clock."""

    ssrc: int
    payload_type: int
    sequence: int = 0
    timestamp: int = 0

    def packet(self, payload: bytes) -> bytes:
        header = RTP_HEADER.pack(
            RTP_VERSION << 6,
            self.payload_type & 0x7F,
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc,
        )
        self.sequence += 1
        self.timestamp += FRAME_SAMPLES
        return header + payload


def rtp_payload(packet: bytes) -> bytes | None:
    """The payload of an RTP packet (after its CSRCs and header extension), or None when it is
    not one."""
    if len(packet) < RTP_HEADER.size or packet[0] >> 6 != RTP_VERSION:
        return None
    offset = RTP_HEADER.size + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        if len(packet) < offset + 4:
            return None
        words = int.from_bytes(packet[offset + 2 : offset + 4], "big")
        offset += 4 + 4 * words
    end = len(packet)
    if packet[0] & 0x20 and end > offset:
        end -= packet[-1]
    return packet[offset:end] if end > offset else None
