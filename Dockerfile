# syntax=docker/dockerfile:1
#
# skillsync: a static binary on a distroless, non-root image.
#
#   docker build -t skillsync \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   docker run --rm skillsync version
#   docker run --rm -v /etc/skillsync:/etc/skillsync:ro \
#     -e SKILLSYNC_DATABASE_URL -e LP_CLIENT_ID -e LP_CLIENT_SECRET \
#     -p 9090:9090 skillsync
#
# BuildKit (Docker 23 and later, or DOCKER_BUILDKIT=1) is needed for the
# cache mounts below. Without the build arguments the binary reports
# version "devel" and commit "unknown" (the build context has no .git).
#
# Health checks: GET /livez (the process serves HTTP) and GET /readyz (the
# database answers; 503 with the reason otherwise) on server.listen. The
# image has no shell or curl, so probe from the orchestrator (Kubernetes
# livenessProbe/readinessProbe httpGet, or an HTTP check in your platform),
# and set server.listen to 0.0.0.0:9090 so that the probe can reach it.
# deploy/helm/skillsync is a Helm chart that does all of this.

# Base images pinned by digest: a tag moves, a digest is the image that was
# tested. Refresh them together, e.g. with
#   crane digest golang:1.26.8-bookworm
#   crane digest gcr.io/distroless/static-debian12:nonroot
# (the Go version is go.mod's).
ARG GO_IMAGE=golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=devel
ARG REVISION=unknown
# The same command .ci/run uses, so CI tests the binary this image ships.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${REVISION}" \
      -o /out/skillsync ./cmd/skillsync

FROM ${RUNTIME_IMAGE}
ARG VERSION=devel
ARG REVISION=unknown
ARG CREATED=""
LABEL org.opencontainers.image.title="skillsync" \
      org.opencontainers.image.description="Keeps LivePerson skills and agent skill assignments in line with an HR system" \
      org.opencontainers.image.source="https://github.com/skillsync/skillsync" \
      org.opencontainers.image.url="https://github.com/skillsync/skillsync" \
      org.opencontainers.image.documentation="https://github.com/skillsync/skillsync/blob/main/README.md" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/skillsync /usr/local/bin/skillsync
COPY config.example.yaml /etc/skillsync/config.example.yaml
ENV SKILLSYNC_CONFIG=/etc/skillsync/config.yaml
# The distroless image's nonroot user, by number: Kubernetes checks
# runAsNonRoot only against a numeric user.
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["skillsync"]
CMD ["run"]
