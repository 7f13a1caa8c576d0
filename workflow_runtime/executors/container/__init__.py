"""The container executor: each step in its own podman or docker container (see ``executor``)."""
