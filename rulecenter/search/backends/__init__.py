"""Where the index lives. tantivy is the one engine (PRODUCT.md: no home-made search engine)."""
