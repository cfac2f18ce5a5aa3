# ovms image: the core, the device plugins and ONNX Runtime, serving the
# example model by default. Build: docker build -t ovms .
FROM golang:1.26-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends npm >/dev/null
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build models

FROM debian:bookworm-slim
COPY --from=build /src/bin/ovms /src/bin/ovms-device-* /opt/ovms/bin/
COPY --from=build /src/.cache/onnxruntime/1.30.0/libonnxruntime.so.1 /opt/ovms/lib/
COPY --from=build /src/build/models /models
RUN useradd --uid 5000 --no-create-home ovms
USER 5000
EXPOSE 9000 8000
ENTRYPOINT ["/opt/ovms/bin/ovms"]
CMD ["--model_name", "dummy", "--model_path", "/models/dummy", "--port", "9000", "--rest_port", "8000"]
