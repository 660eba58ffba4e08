"""Motion and tamper detection on gray frames: pure steps of (state, frame, time, settings)."""

from hub.motion.detector import Box, MotionResult, MotionState, step
from hub.motion.settings import MotionSettings
from hub.motion.tamper import Reason, TamperResult, TamperSettings, TamperState, TamperTransition, tamper_step

__all__ = [
    "Box",
    "MotionResult",
    "MotionSettings",
    "MotionState",
    "Reason",
    "TamperResult",
    "TamperSettings",
    "TamperState",
    "TamperTransition",
    "step",
    "tamper_step",
]
