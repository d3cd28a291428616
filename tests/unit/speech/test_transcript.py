"""Reading an OpenAI-compatible answer: the confidence rule, silence, languages, bad answers."""
from __future__ import annotations

import math

import pytest

from speech.errors import TranscriptionResponseError
from speech.transcript import Transcript, language_code, transcript_from_answer


def _segment(start, end, text, logprob, no_speech=0.01):
    return {"start": start, "end": end, "text": text, "avg_logprob": logprob, "no_speech_prob": no_speech}


def test_confidence_is_exp_of_the_duration_weighted_mean_logprob():
    answer = {"text": " Koch in Berlin. Vollzeit.", "language": "german", "duration": 4.0, "segments": [
        _segment(0.0, 3.0, " Koch in Berlin.", -0.1), _segment(3.0, 4.0, " Vollzeit.", -0.9)]}
    transcript = transcript_from_answer(answer)
    assert transcript.confidence == pytest.approx(math.exp((3 * -0.1 + 1 * -0.9) / 4))
    assert (transcript.text, transcript.language, transcript.duration_seconds) == (
        "Koch in Berlin. Vollzeit.", "de", 4.0)


def test_silent_segments_are_dropped_from_text_and_confidence():
    answer = {"text": " Koch in Berlin. Vielen Dank.", "segments": [
        _segment(0.0, 2.0, " Koch in Berlin.", -0.2),
        _segment(2.0, 6.0, " Vielen Dank.", -1.4, no_speech=0.9)]}  # Whisper's typical hallucination
    transcript = transcript_from_answer(answer)
    assert transcript.text == "Koch in Berlin."
    assert transcript.confidence == pytest.approx(math.exp(-0.2))


def test_a_low_logprob_alone_is_not_silence():
    answer = {"text": "vielleicht", "segments": [_segment(0, 1, " vielleicht", -1.6, no_speech=0.3)]}
    transcript = transcript_from_answer(answer)
    assert transcript.text == "vielleicht"
    assert transcript.confidence == pytest.approx(math.exp(-1.6))


def test_only_silence_is_empty_without_a_figure():
    transcript = transcript_from_answer({"text": " Untertitel von ZDF", "segments": [
        _segment(0, 2, " Untertitel von ZDF", -1.5, no_speech=0.95)]})
    assert (transcript.text, transcript.confidence) == ("", None)


def test_no_segments_no_confidence_and_clamped_when_positive():
    assert transcript_from_answer({"text": "  hallo  "}) == Transcript("hallo", None, None, None)
    assert transcript_from_answer({"text": "x", "segments": [_segment(0, 1, "x", 0.3)]}).confidence == 1.0
    zero_length = transcript_from_answer({"text": "x", "segments": [_segment(0, 0, "x", -0.5), _segment(1, 1, "y", -1.5)]})
    assert zero_length.confidence == pytest.approx(math.exp(-1.0))  # equal weights


@pytest.mark.parametrize(("value", "code"), [
    ("german", "de"), ("English", "en"), ("french", "fr"), ("spanish", "es"), ("italian", "it"), ("turkish", "tr"),
    ("arabic", "ar"), ("ukrainian", "uk"), ("russian", "ru"), ("polish", "pl"), ("de", "de"), ("pt-BR", "pt"),
    ("klingon", None), ("deu", None), ("", None), (None, None), (7, None),
])
def test_language_names_and_codes(value, code):
    assert language_code(value) == code


@pytest.mark.parametrize("answer", [[], "text", {"text": None}, {"segments": []}, {"text": 3}])
def test_an_answer_without_text_is_a_response_error(answer):
    with pytest.raises(TranscriptionResponseError):
        transcript_from_answer(answer)


def test_repr_hides_the_text():
    assert "Koch" not in repr(Transcript("Koch in Berlin", 0.9, "de", 2.0))
