std = "lua54"
max_line_length = 120
-- Specs hold long literal test data and URLs on one line on purpose.
files["spec/"] = { std = "+busted", max_line_length = 160 }
