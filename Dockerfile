# mailgate — lint engine, CLI (and, when built, relay + API)
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailgate ./mailgate
COPY checks ./checks
COPY templates ./templates
RUN pip install --no-cache-dir . \
 # flanker writes its parser tables on first import: do it at build time, not in production
 && python -c "import flanker.addresslib.address" \
 && useradd --system --home /var/lib/mailgate mailgate
USER mailgate
EXPOSE 2525 8025
ENTRYPOINT ["mailgate"]
CMD ["serve", "--config", "/etc/mailgate/mailgate.toml"]
