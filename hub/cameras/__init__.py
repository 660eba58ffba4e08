"""Cameras in the hub: one worker per camera (stream, motion, tamper, health), their evidence files,
and the manager that keeps the workers in step with the registry."""
