# The S3 server of the compose S3 stack (scripts/s3server: the integration
# tests' gofakes3 server as a process), built by the container tests.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
COPY s3server /usr/local/bin/s3server
USER 5000:5000
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["/usr/local/bin/s3server", "-health", "http://127.0.0.1:9000/"]
ENTRYPOINT ["/usr/local/bin/s3server"]
