"""The table of ../shared/examples/README.md: what a correct sync of the seed scenario gives."""

INTERNAL_USERS = {"anna.schmidt", "tom.weber", "admin.print"}
EXTERNAL_USERS = {"cdubois", "mlefevre", "smartin", "jsilva", "acosta", "pbraun"}
CUSTOMER_GROUPS = {
    "X10001-Éditions Lumière": {"cdubois", "mlefevre", "smartin"},
    "X10002-Agência Criativa Lda": {"jsilva", "acosta"},
    "X10003-Weingut Sonnenhang GmbH": {"pbraun"},
}
ORDER_GROUPS = {
    "order-_20261120_001": {"cdubois", "mlefevre", "smartin", "jsilva", "acosta"},
    "order-_20261120_002": {"jsilva", "acosta"},
    "order-_20261121_003": {"pbraun", "jsilva", "acosta"},
    "order-RA_4726": {"cdubois", "mlefevre", "smartin"},
}
ROLE_GROUPS = {
    "Prepress": {"anna.schmidt", "admin.print"},
    "Administrators": {"admin.print"},
    "Customer Sales Representatives": {"tom.weber"},
}
