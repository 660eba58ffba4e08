"""RTSP cameras (H.264 over RTSP/TCP): frames for motion, status for supervision, packets for clips."""

from drivers.rtsp_camera.clip import Box, snapshot_jpeg
from drivers.rtsp_camera.config import Settings
from drivers.rtsp_camera.driver import CameraStream
from drivers.rtsp_camera.failures import CameraFailure, Reason
from drivers.rtsp_camera.frames import Frame
from drivers.rtsp_camera.status import CameraStatus, Quality, State
from hub.secrets import redact

__all__ = ["Box", "CameraFailure", "CameraStatus", "CameraStream", "Frame", "Quality", "Reason", "Settings",
           "State", "redact", "snapshot_jpeg"]
