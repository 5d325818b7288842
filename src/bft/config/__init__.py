"""Per-environment configuration: one YAML file per environment, validated once.

``app.py`` and the CLI call :func:`load_config`; everything downstream gets the
typed :class:`EnvironmentConfig` (or plain values taken from it). A bad file
fails with :class:`ConfigError`, whose message names the file, the line, the
key path and what is allowed.

The parts: :mod:`~bft.config.fields` (the error, the value types, the defaults), :mod:`~bft.config.timing`
(step timeouts and the execution timeout), :mod:`~bft.config.settings` (the typed settings and the rules that
span keys), :mod:`~bft.config.loader` (where the file is, and reading it strictly).
"""

from __future__ import annotations

from bft.config.fields import (
    CONFIG_DIR_VARIABLE,
    DEFAULT_CONFIG_DIR,
    DEFAULT_REGION,
    LOG_RETENTION_DAYS,
    PATTERN_WORDS,
    ConfigError,
)
from bft.config.loader import config_path, describe_source, known_environments, load_config, resolve_config_dir
from bft.config.settings import (
    PRICE_TABLES,
    DataRetention,
    EnvironmentConfig,
    Prices,
    ReaperConfig,
    Team,
    ThroughputPolicy,
    VpcConfig,
    resource_prefix,
)
from bft.config.timing import (
    EVALUATION_THROTTLE_MAX_DELAY_SECONDS,
    EVALUATION_THROTTLE_RETRIES,
    EVALUATION_THROTTLE_RETRY_SECONDS,
    RETRY_BACKOFF_RATE,
    STEP_TIMEOUT_SECONDS,
    WorkflowTiming,
    retry_max_delay_seconds,
)

__all__ = [
    "CONFIG_DIR_VARIABLE",
    "DEFAULT_CONFIG_DIR",
    "DEFAULT_REGION",
    "EVALUATION_THROTTLE_MAX_DELAY_SECONDS",
    "EVALUATION_THROTTLE_RETRIES",
    "EVALUATION_THROTTLE_RETRY_SECONDS",
    "LOG_RETENTION_DAYS",
    "PATTERN_WORDS",
    "PRICE_TABLES",
    "RETRY_BACKOFF_RATE",
    "STEP_TIMEOUT_SECONDS",
    "ConfigError",
    "DataRetention",
    "EnvironmentConfig",
    "Prices",
    "ReaperConfig",
    "Team",
    "ThroughputPolicy",
    "VpcConfig",
    "WorkflowTiming",
    "config_path",
    "describe_source",
    "known_environments",
    "load_config",
    "resolve_config_dir",
    "resource_prefix",
    "retry_max_delay_seconds",
]
