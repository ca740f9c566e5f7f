"""TensorFlow's native start-up notes stay out of the console; everything else written to stderr gets through."""

from __future__ import annotations

import os

import pytest

from recommenders.audio.tf_runtime import NATIVE_NOISE, filtered_stderr


def test_native_noise_dropped_and_other_lines_kept_in_order(capfd: pytest.CaptureFixture[str]) -> None:
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
        b"I0000 00:00:1795609370.877247   31708 port.cc:153] oneDNN custom operations are on.\n",
        b"first real line\n",
        b"I0000 00:00:1795609370.912432   31708 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n",
        b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the ...\n",
        b"E0000 00:00:1795609370.9 31708 real_error.cc:1] a real native error\n",
        b"last line without newline",
    ]
    with filtered_stderr(NATIVE_NOISE):
        for line in lines:
            os.write(2, line)
    os.write(2, b"\nafter the block\n")
    err = capfd.readouterr().err
    assert err == (
        "first real line\nE0000 00:00:1795609370.9 31708 real_error.cc:1] a real native error\n"
        "last line without newline\nafter the block\n"
    )


def test_descriptor_restored_after_an_exception(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), filtered_stderr(NATIVE_NOISE):
        raise RuntimeError("boom")
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"
