# syntax=docker/dockerfile:1
# Production image: the compiled service, its production dependencies, the descriptor set that
# server reflection answers from, and grpc_health_probe; run as the non-root user `node` (uid 1000).
# The image has no embedded MongoDB: set MONGODB_URI to a replica set. It binds 0.0.0.0, so the
# service also needs API_KEYS or API_KEYS_FILE (`npm run keys -- create --scope full`).
#
#   docker build -t auth-token-service:0.1.0 .
#   docker run -p 50051:50051 -p 9464:9464 -e API_KEYS='ops:full:<sha256hex>' \
#     -e MONGODB_URI='mongodb://db-0,db-1,db-2/?replicaSet=rs0' auth-token-service:0.1.0

# grpc_health_probe, built from source through the Go module proxy (no release downloads).
FROM golang:1.26-bookworm AS probe
ENV CGO_ENABLED=0
RUN go install -trimpath -ldflags="-s -w" github.com/grpc-ecosystem/grpc-health-probe@v0.4.40

# Compiles src/ and gen/ into dist/, then drops the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen ./gen
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=50051 \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=probe /go/bin/grpc-health-probe /usr/local/bin/grpc_health_probe
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Read at run time by gRPC server reflection, found from dist/src/grpc/ upwards as /app/gen/.
COPY --from=build /app/gen/descriptor.binpb ./gen/descriptor.binpb
USER node
# gRPC, then Prometheus /metrics.
EXPOSE 50051 9464
# Ready, not merely alive: NOT_SERVING while MongoDB is unreachable and once shutdown begins.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["grpc_health_probe", "-addr=127.0.0.1:50051", "-service=authtoken.v1.AuthTokenService"]
# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown, SHUTDOWN_GRACE_MS).
# The flags and the allocator setting are those of `npm run serve` (package.json): without the heap
# flags V8 sizes its heap from the machine, not from what the service needs; a fixed mmap threshold
# makes glibc return large freed buffers (responses dropped with a client's connection) to the
# system at once instead of keeping them in its heap.
ENV MALLOC_MMAP_THRESHOLD_=131072
CMD ["node", "--max-old-space-size=128", "--max-semi-space-size=16", "dist/src/main.js"]
