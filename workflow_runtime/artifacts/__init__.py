"""Argo's artifacts: files and directories handed between steps through an artifact repository.

``repository`` (the store contract), ``local`` and ``s3`` (the stores), ``http`` (URL inputs and
outputs), ``archive`` (tar+gzip as Argo writes it), ``context`` (the configured repositories and
one step's share of them), ``resolve`` (inputs: ``from``, binding, fetching) and ``collect``
(outputs and ``archiveLogs``). The controller calls ``resolve`` and ``collect`` around each step;
every executor only copies files in (``StepSpec.input_paths``) and out (``materialize``).
"""
