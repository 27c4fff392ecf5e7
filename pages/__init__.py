"""The app's pages. Dash imports each file here (and in page folders such as `monitor/`)
whose text contains "register_page", skipping names that start with "_"; the README
describes what a page holds."""
