-- Runs once, when the PostgreSQL volume is first created.
-- pgvector lives in the public schema so every tenant schema can use it.
CREATE EXTENSION IF NOT EXISTS vector;
-- The optional Evolution API container (profile "whatsapp") keeps its own database.
CREATE DATABASE evolution OWNER saas;
