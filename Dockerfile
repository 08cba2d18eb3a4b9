# napbox itself as a container (`npm run image` stages .napbox-image/ and builds
# napbox:local; compose.yaml runs it). Based on the tenants' own base image,
# made by set-up from Debian; Node.js and the production dependencies come from
# the stage (see setup/napbox-image.sh).
ARG NODE_BASE=napbox-node-base:node24
FROM ${NODE_BASE}
COPY .napbox-image/ /
WORKDIR /opt/napbox
ENV NODE_ENV=production NAPBOX_DATA_DIR=/data NAPBOX_GROUPS_DIR=/groups NAPBOX_LOG_FORMAT=json \
    NAPBOX_CA_BUNDLE=/opt/napbox/ca-bundle.crt
# The engine's socket is mounted in: napbox drives the engine as root would. Tenants stay unprivileged.
ENTRYPOINT ["/usr/local/bin/node", "/opt/napbox/dist/src/index.js"]
