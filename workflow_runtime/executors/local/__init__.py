"""The local executor: steps as isolated host processes (``executor.LocalExecutor``).

The package stays import-light because the agent process (``agent``) and every step child load it;
import the executor from :mod:`workflow_runtime.executors.local.executor`.
"""
