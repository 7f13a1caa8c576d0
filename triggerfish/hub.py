"""Wiring: the one place where the core assembles the components into a hub.

Store → controller (workflow runtime) → bus → event sources, sensors and triggers → CronWorkflows,
and the manifest registry that ``apply`` and ``--manifests`` go through.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from eventsources.calendar import CalendarSettings
from eventsources.manager import SourceManager
from eventsources.registry import SourceServices
from eventsources.s3 import S3Settings
from eventsources.spec import load_event_source
from sensors.manager import SensorManager
from sensors.spec import load_sensor
from triggerfish.api.routes import PortServers, RouteTable
from triggerfish.bus.kafka import KafkaBus, TopicSettings
from triggerfish.bus.kafka_client import KafkaConnection, ssl_context
from triggerfish.bus.sqlite import Retention, SqlBus
from triggerfish.config import Settings
from triggerfish.manifests import KindHandler, ManifestRegistry
from triggerfish.store.db import open_database
from triggerfish.store.leases import LeaseStore
from triggerfish.store.memo import MemoStore
from triggerfish.store.resources import ResourceStore
from triggerfish.store.schedules import ScheduleTickStore
from triggerfish.store.workflows import WorkflowStore
from triggerfish.submitter import HubSubmitter
from triggers.registry import default_drivers
from workflow_runtime.artifacts.context import context_from_settings
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.controller.ownership import Ownership, OwnershipSettings
from workflow_runtime.controller.run import RunSettings
from workflow_runtime.controller.sync import SyncManager
from workflow_runtime.cron import CronScheduler, load_cron_workflow
from workflow_runtime.executors.base import Executor
from workflow_runtime.executors.container.engine import find_engine
from workflow_runtime.executors.container.executor import ContainerExecutor
from workflow_runtime.executors.images import ImageConfig, ImageTable
from workflow_runtime.executors.local.executor import LocalExecutor
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import load_workflow, load_workflow_kind
from workflow_runtime.validation import validate_template_manifest


@dataclass
class Hub:
    settings: Settings
    engine: AsyncEngine
    workflows: WorkflowStore
    resources: ResourceStore
    executor: Executor
    controller: Controller
    bus: SqlBus | KafkaBus
    routes: RouteTable
    sources: SourceManager
    sensors: SensorManager
    cron: CronScheduler
    manifests: ManifestRegistry

    async def close(self) -> None:
        await self.sensors.close()
        await self.sources.close()
        await self.cron.close()
        await self.bus.close()
        await self.controller.close()
        await self.engine.dispose()


def build_executor(settings: Settings) -> Executor:
    kind, container = settings.executor.kind, settings.executor.container
    engine = find_engine(container.docker_host) if kind == "auto" else kind
    if engine in ("podman", "docker"):
        return ContainerExecutor(
            settings.data_dir / "containers",
            engine,
            network=container.network,
            run_args=container.run_args,
            pull_policy=container.pull_policy,
            docker_host=container.docker_host,
            max_parallel_steps=container.max_parallel_steps,
            kill_grace_seconds=settings.executor.kill_grace_seconds,
        )
    local = settings.executor.local
    return LocalExecutor(
        settings.data_dir / "executor",
        images=ImageTable({name: ImageConfig(**entry.model_dump()) for name, entry in local.images.items()}),
        isolation=local.isolation,
        max_parallel_steps=local.max_parallel_steps,
        kill_grace_seconds=settings.executor.kill_grace_seconds,
    )


def replica_id(settings: Settings) -> str:
    """``cluster.replica_id``, else ``<hostname>:<hash of the data directory>`` (stable across restarts)."""
    if settings.cluster.replica_id:
        return settings.cluster.replica_id
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}:{digest}"


def build_ownership(settings: Settings, engine: AsyncEngine, workflows: WorkflowStore) -> Ownership | None:
    """Workflow leases between replicas: on for PostgreSQL (``cluster.ownership: auto``)."""
    mode = settings.cluster.ownership
    if mode == "off" or (mode == "auto" and engine.dialect.name != "postgresql"):
        return None
    cluster = settings.cluster
    ownership_settings = OwnershipSettings(
        replica_id(settings), cluster.lease_seconds, cluster.scan_interval_seconds
    )
    leases = LeaseStore(engine, ownership_settings.replica_id, cluster.lease_seconds)
    return Ownership(workflows, leases, ownership_settings)


def build_bus(settings: Settings, engine: AsyncEngine) -> SqlBus | KafkaBus:
    """``bus.kind``: the log in the hub's database, or a Kafka topic (deduplicated via the database)."""
    if settings.bus.kind == "sqlite":
        return SqlBus(
            engine,
            retention=Retention(
                max_age_seconds=settings.bus.retention_max_age_seconds,
                max_records=settings.bus.retention_max_records,
            ),
        )
    kafka = settings.bus.kafka
    context = None
    if kafka.tls:
        context = ssl_context(
            ca_pem=kafka.ca_file.read_text() if kafka.ca_file else None,
            cert_pem=kafka.cert_file.read_text() if kafka.cert_file else None,
            key_pem=kafka.key_file.read_text() if kafka.key_file else None,
            insecure_skip_verify=kafka.insecure_skip_verify,
        )
    connection = KafkaConnection(
        kafka.bootstrap,
        sasl_mechanism=kafka.sasl_mechanism,
        username=kafka.username,
        password=kafka.password,
        ssl_context=context,
        client_id=f"triggerfish-{replica_id(settings)}",
    )
    return KafkaBus(
        connection,
        kafka.topic,
        index=engine,
        topic_settings=TopicSettings(
            kafka.partitions, kafka.replication_factor, settings.bus.retention_max_age_seconds
        ),
        group_prefix=kafka.group_prefix,
        session_timeout_ms=kafka.session_timeout_ms,
        linger_ms=kafka.linger_ms,
    )


def _template_handler(kind: str) -> KindHandler:
    def load(doc: dict[str, Any]) -> Any:
        manifest = load_workflow_kind(doc)
        if manifest.kind != kind:
            raise ManifestError([], f"expected {kind}")
        issues = validate_template_manifest(manifest.spec)
        if issues:
            raise ManifestError(issues)
        return manifest

    return KindHandler(kind, load, cluster_scoped=kind == "ClusterWorkflowTemplate")


async def open_hub(settings: Settings, *, start_controller: bool = True) -> Hub:
    """Open the store (migrating it), the executor, the controller and the event pipeline; resume
    unfinished runs and re-activate stored EventSources, Sensors and CronWorkflows."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = await open_database(settings.resolved_database_url)
    workflows, resources = WorkflowStore(engine), ResourceStore(engine)
    executor = build_executor(settings)
    run_settings = RunSettings(
        kill_grace_seconds=settings.executor.kill_grace_seconds,
        keep_step_files=settings.executor.keep_step_files,
        artifacts=context_from_settings(settings),
    )
    controller = Controller(
        workflows,
        resources,
        executor,
        run_settings,
        memo=MemoStore(engine),
        sync=SyncManager(settings.semaphores),
    )
    controller.ownership = build_ownership(settings, engine, workflows)
    bus = build_bus(settings, engine)
    routes = RouteTable()
    ticks = ScheduleTickStore(engine)
    services = SourceServices(
        ticks=ticks,
        calendar=CalendarSettings(max_catchup=settings.events.calendar_max_catchup),
        s3=S3Settings(auth_token=settings.events.s3_auth_token),
    )
    sources = SourceManager(
        bus, routes, PortServers(routes, settings.host), services, settings.secrets, settings.namespace
    )
    submitter = HubSubmitter(controller, resources, workflows)

    def secret(namespace: str, name: str, key: str) -> str | None:
        return settings.secrets.get(name, {}).get(key)

    sensors = SensorManager(
        bus,
        engine,
        default_drivers(submitter=submitter, secrets=secret),
        settings.namespace,
        cluster=controller.ownership.settings if controller.ownership is not None else None,
    )
    cron = CronScheduler(controller, ticks)

    async def submit(doc: dict[str, Any], namespace: str) -> str:
        record = await controller.submit(load_workflow(doc), SubmitOptions(namespace=namespace))
        return record.name

    registry = ManifestRegistry(resources, submit, settings.namespace)
    for kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
        registry.register(_template_handler(kind))

    async def activate_source(model: Any, namespace: str) -> list[str]:
        return await sources.apply(model)

    async def activate_sensor(model: Any, namespace: str) -> list[str]:
        await sensors.apply(model)
        return []

    async def activate_cron(model: Any, namespace: str) -> list[str]:
        await cron.apply(model, namespace)
        return []

    registry.register(KindHandler("EventSource", load_event_source, activate_source, sources.delete))
    registry.register(KindHandler("Sensor", load_sensor, activate_sensor, sensors.delete))
    registry.register(KindHandler("CronWorkflow", load_cron_workflow, activate_cron, cron.delete))
    hub = Hub(
        settings,
        engine,
        workflows,
        resources,
        executor,
        controller,
        bus,
        routes,
        sources,
        sensors,
        cron,
        registry,
    )
    if start_controller:
        await controller.start()
        await registry.restore()
    return hub
