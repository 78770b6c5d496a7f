"""Judgement: findings, score, grade and coverage from stored scan facts."""

from mtlsaudit.judge.rules import RULES, SCHEMA_VERSION, coverage, judge, score

__all__ = ["RULES", "SCHEMA_VERSION", "coverage", "judge", "score"]
