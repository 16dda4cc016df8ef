# One image for both roles: `node dist/apps/api/src/main.js` or `node dist/apps/worker/src/main.js`.
FROM node:22.21.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci
COPY . .
# dist is a symlink to the build (scripts/build.cjs); the image gets a plain directory.
RUN npm run build && cp -rL dist /app/dist-image && npm prune --omit=dev

FROM node:22.21.1-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist-image ./dist
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/package.json ./package.json
USER node
EXPOSE 19530
CMD ["node", "dist/apps/api/src/main.js"]
