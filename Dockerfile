# syntax=docker/dockerfile:1
#
# skillsync: a static binary on a distroless, non-root image.
#
#   docker build -t skillsync .
#   docker run --rm -v /etc/skillsync:/etc/skillsync:ro \
#     -e SKILLSYNC_DATABASE_URL -e LP_CLIENT_ID -e LP_CLIENT_SECRET \
#     -p 9090:9090 skillsync
#
# Health checks: GET /livez (the process serves HTTP) and GET /readyz (the
# database answers; 503 with the reason otherwise) on server.listen. The
# image has no shell or curl, so probe from the orchestrator (Kubernetes
# livenessProbe/readinessProbe httpGet, or an HTTP check in your platform),
# and set server.listen to 0.0.0.0:9090 so that the probe can reach it.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command .ci/run uses, so CI tests the binary this image ships.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/skillsync ./cmd/skillsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/skillsync /usr/local/bin/skillsync
COPY config.example.yaml /etc/skillsync/config.example.yaml
ENV SKILLSYNC_CONFIG=/etc/skillsync/config.yaml
USER nonroot:nonroot
EXPOSE 9090
ENTRYPOINT ["skillsync"]
CMD ["run"]
