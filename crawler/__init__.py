"""The Scrapy project that fetches every source (settings, spiders, pipelines)."""
