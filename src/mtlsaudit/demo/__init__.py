"""`mtlsaudit demo`: two embedded targets, scanned side by side with their own logs."""

from mtlsaudit.demo.run import run_demo
from mtlsaudit.demo.targets import DemoPki, HardenedTarget, UnderLoggingTarget

__all__ = ["DemoPki", "HardenedTarget", "UnderLoggingTarget", "run_demo"]
