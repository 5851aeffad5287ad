# The Airflow 3.3 image with the reconciliation installed: every Airflow service of
# docker-compose.yaml runs it (api-server, scheduler, dag-processor, triggerer, workers).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
USER root
RUN mkdir -p /opt/amcash/var /opt/amcash/config /opt/amcash/src \
    && chown -R airflow:root /opt/amcash
USER airflow

# Pinned dependencies first (cached until requirements.txt changes). Airflow is pinned on the
# same command line so that no dependency can move it.
COPY --chown=airflow:root requirements.txt /opt/amcash/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/amcash/requirements.txt

# The reconciliation package itself (the `recon` command comes with it).
COPY --chown=airflow:root pyproject.toml README.md /opt/amcash/src/
COPY --chown=airflow:root reconciliation /opt/amcash/src/reconciliation
RUN pip install --no-cache-dir --no-deps /opt/amcash/src

# DAGs, plugins and the example configuration are baked in; compose mounts the working copies over them.
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root config /opt/amcash/config

ENV AIRFLOW_VAR_AMCASH_STATE_DIR=/opt/amcash/var
WORKDIR /opt/amcash
