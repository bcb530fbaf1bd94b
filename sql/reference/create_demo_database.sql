-- The demo's database, on the demo's own throwaway server.
CREATE DATABASE credits_demo;
