"""Motion and tamper detection on gray frames: pure steps of (state, frame, time, settings)."""

from hub.motion.detector import Box, MotionResult, MotionState, step
from hub.motion.settings import MotionSettings

__all__ = ["Box", "MotionResult", "MotionSettings", "MotionState", "step"]
