# The ovms image: the core, the device plugins and ONNX Runtime; the models
# come from a volume or object storage. Every command of OVMS's Docker guide
# works with only the image name changed:
#
#   docker run -d -v $PWD/models:/models:ro -p 9000:9000 -p 8000:8000 ovms:latest \
#     --model_name m --model_path /models/m --port 9000 --rest_port 8000
#
# Build it with `make image` (tag ovms:latest; `make image-cuda` for
# ovms:latest-cuda): binaries are built by `make build` on the host and staged
# into build/image/ (the goreleaser/ko pattern: no Go toolchain image), which
# is all the build context holds (see .dockerignore). By hand, after
# `make image-context`: docker build -t ovms:latest .
# BASE_IMAGE is pulled where a registry is reachable; scripts/image/base-image.sh
# builds it from Debian packages where none is (see docs/container.md).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS base
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/ovmsgo/ovms
LABEL org.opencontainers.image.title="ovms" \
      org.opencontainers.image.description="OpenVINO Model Server compatible model server (gRPC and REST, TF Serving and KServe v2 APIs) on ONNX Runtime" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.documentation="${SOURCE}/blob/main/docs/container.md" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# uid/gid 5000 as in OVMS's image; any other uid works too (--user), as the
# image needs nothing writable but /tmp (S3/GCS/Azure downloads).
RUN useradd --uid 5000 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ovms
# The CA bundle of the build host: TLS to object storage needs one, and the
# slim base has none.
COPY build/image/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# ovms finds its device plugins beside itself and ONNX Runtime in ../lib.
COPY build/image/bin/ /ovms/bin/
COPY build/image/lib/ /ovms/lib/
USER 5000:5000
WORKDIR /tmp
EXPOSE 9000 8000
# ovms health reads the ports from the server's command line (PID 1) and asks
# REST /v2/health/ready (gRPC health when there is no REST port): no shell.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/ovms/bin/ovms", "health"]
ENTRYPOINT ["/ovms/bin/ovms"]

# ovms:latest-cuda: adds ONNX Runtime's CUDA execution provider (make
# image-cuda fetches it, about 180 MB) for --target_device CUDA; run it with
# --gpus all (the NVIDIA container toolkit brings the driver and CUDA 13's
# libraries are needed on the library path, see docs/devices.md).
FROM base AS cuda
COPY build/image/cuda/ /ovms/lib/

# The default target (last): no CUDA provider.
FROM base AS ovms
