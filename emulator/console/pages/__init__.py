"""One module per page family; ``emulator.console.nav.PAGES`` lists them."""
