"""Import an 自评表 workbook (.xlsx): file checks (`safety`), parsing (`parser`, no Django) and
turning the result into a draft through the entry form (`apply`)."""
