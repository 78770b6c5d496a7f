"""The probe catalogue (DESIGN §4): one module per family, found by discovery."""

from mtlsaudit.probes.base import ForgeContext, Forged, Probe, ProbeMeta, catalogue, probe

__all__ = ["ForgeContext", "Forged", "Probe", "ProbeMeta", "catalogue", "probe"]
