"""Golden ENVELOPE, BODY and BODYSTRUCTURE values (rendered as IMAP text by mimedata.imap)."""

GOLDEN = {
    ("RFC3501_MESSAGE", "env"): (
        '("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.'
        'washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "im'
        'ap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US") ("John Klens'
        'in" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")'
    ),
    ("RFC3501_MESSAGE", "bs"): (
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92 NIL NIL NIL NIL)'
    ),
    ("RFC3501_MESSAGE", "b"): ('("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)'),
    ("NESTED", "env"): (
        '(NIL "nested" ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) ((NIL '
        'NIL "a" "example.org")) NIL NIL NIL NIL NIL)'
    ),
    ("NESTED", "bs"): (
        '(("TEXT" "PLAIN" NIL NIL NIL "7bit" 6 1 NIL NIL NIL NIL) ("APPLICATION" "OCTET-S'
        'TREAM" NIL NIL NIL "base64" 8 NIL NIL NIL NIL) ("MESSAGE" "RFC822" NIL NIL NIL "'
        '7bit" 194 (NIL "part 3" ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org'
        '")) ((NIL NIL "b" "example.org")) NIL NIL NIL NIL NIL) (("TEXT" "PLAIN" NIL NIL '
        'NIL "7bit" 8 1 NIL NIL NIL NIL) ("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7bit"'
        ' 8 NIL NIL NIL NIL) "MIXED" ("boundary" "m3") NIL NIL NIL) 13 NIL NIL NIL NIL) ('
        '("IMAGE" "GIF" NIL NIL NIL "7bit" 8 NIL NIL NIL NIL) ("MESSAGE" "RFC822" NIL NIL'
        ' NIL "7bit" 319 (NIL "part 4.2" ((NIL NIL "c" "example.org")) ((NIL NIL "c" "exa'
        'mple.org")) ((NIL NIL "c" "example.org")) NIL NIL NIL NIL NIL) (("TEXT" "PLAIN" '
        'NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL) (("TEXT" "PLAIN" NIL NIL NIL "7bit" 12 '
        '1 NIL NIL NIL NIL) ("TEXT" "RICHTEXT" NIL NIL NIL "7bit" 12 1 NIL NIL NIL NIL) "'
        'ALTERNATIVE" ("boundary" "m422") NIL NIL NIL) "MIXED" ("boundary" "m42") NIL NIL'
        ' NIL) 21 NIL NIL NIL NIL) "MIXED" ("boundary" "m4") NIL NIL NIL) "MIXED" ("bound'
        'ary" "outer") NIL NIL NIL)'
    ),
    ("NESTED", "b"): (
        '(("TEXT" "PLAIN" NIL NIL NIL "7bit" 6 1) ("APPLICATION" "OCTET-STREAM" NIL NIL N'
        'IL "base64" 8) ("MESSAGE" "RFC822" NIL NIL NIL "7bit" 194 (NIL "part 3" ((NIL NI'
        'L "b" "example.org")) ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")'
        ') NIL NIL NIL NIL NIL) (("TEXT" "PLAIN" NIL NIL NIL "7bit" 8 1) ("APPLICATION" "'
        'OCTET-STREAM" NIL NIL NIL "7bit" 8) "MIXED") 13) (("IMAGE" "GIF" NIL NIL NIL "7b'
        'it" 8) ("MESSAGE" "RFC822" NIL NIL NIL "7bit" 319 (NIL "part 4.2" ((NIL NIL "c" '
        '"example.org")) ((NIL NIL "c" "example.org")) ((NIL NIL "c" "example.org")) NIL '
        'NIL NIL NIL NIL) (("TEXT" "PLAIN" NIL NIL NIL "7bit" 10 1) (("TEXT" "PLAIN" NIL '
        'NIL NIL "7bit" 12 1) ("TEXT" "RICHTEXT" NIL NIL NIL "7bit" 12 1) "ALTERNATIVE") '
        '"MIXED") 21) "MIXED") "MIXED")'
    ),
    ("THUNDERBIRD", "env"): (
        '("Sun, 29 Nov 2026 10:15:00 +0100" "=?UTF-8?Q?Cr=C3=AApes_recipe?=" (("Alice" NI'
        'L "alice" "crepes.fr")) (("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice'
        '" "crepes.fr")) (("Bob" NIL "bob" "hamburger.edu")) NIL NIL NIL "<5a6f1d2e-1b3c-'
        '4d5e-8f90-123456789abc@crepes.fr>")'
    ),
    ("THUNDERBIRD", "bs"): (
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "8bit" 37 1 NIL N'
        'IL NIL NIL) (("text" "html" ("charset" "UTF-8") NIL NIL "8bit" 63 1 NIL NIL NIL '
        'NIL) ("image" "png" ("name" "crepes.png") "<part1.abc@crepes.fr>" NIL "base64" 1'
        '4 NIL ("inline" ("filename" "crepes.png")) NIL NIL) "related" ("boundary" "-----'
        '-------rel4567") NIL NIL NIL) "alternative" ("boundary" "------------alt0123") N'
        'IL ("en-US") NIL)'
    ),
    ("THUNDERBIRD", "b"): (
        '(("text" "plain" ("charset" "UTF-8" "format" "flowed") NIL NIL "8bit" 37 1) (("t'
        'ext" "html" ("charset" "UTF-8") NIL NIL "8bit" 63 1) ("image" "png" ("name" "cre'
        'pes.png") "<part1.abc@crepes.fr>" NIL "base64" 14) "related") "alternative")'
    ),
    ("FORWARDED", "env"): (
        '(NIL "Fwd: lunch" (("Bob" NIL "bob" "hamburger.edu")) (("Bob" NIL "bob" "hamburg'
        'er.edu")) (("Bob" NIL "bob" "hamburger.edu")) ((NIL NIL "carol" "hamburger.edu")'
        ") NIL NIL NIL NIL)"
    ),
    ("FORWARDED", "bs"): (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL NIL NIL) ("m'
        'essage" "rfc822" ("name" "lunch.eml") NIL NIL "7bit" 162 ("Sat, 28 Nov 2026 12:0'
        '0:00 +0000" "lunch" (("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice" "c'
        'repes.fr")) (("Alice" NIL "alice" "crepes.fr")) (("Bob" NIL "bob" "hamburger.edu'
        '")) NIL NIL NIL "<lunch@crepes.fr>") ("text" "plain" ("charset" "us-ascii") NIL '
        'NIL "7bit" 14 1 NIL NIL NIL NIL) 7 NIL ("attachment" ("filename" "lunch.eml")) N'
        'IL NIL) "mixed" ("boundary" "fwd") NIL NIL NIL)'
    ),
    ("FORWARDED", "b"): (
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1) ("message" "rfc822"'
        ' ("name" "lunch.eml") NIL NIL "7bit" 162 ("Sat, 28 Nov 2026 12:00:00 +0000" "lun'
        'ch" (("Alice" NIL "alice" "crepes.fr")) (("Alice" NIL "alice" "crepes.fr")) (("A'
        'lice" NIL "alice" "crepes.fr")) (("Bob" NIL "bob" "hamburger.edu")) NIL NIL NIL '
        '"<lunch@crepes.fr>") ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 1)'
        ' 7) "mixed")'
    ),
    ("DIGEST", "env"): (
        '(NIL "digest" ((NIL NIL "list" "example.org")) ((NIL NIL "list" "example.org")) '
        '((NIL NIL "list" "example.org")) NIL NIL NIL NIL NIL)'
    ),
    ("DIGEST", "bs"): (
        '(("text" "plain" NIL NIL NIL "7bit" 14 1 NIL NIL NIL NIL) (("message" "rfc822" N'
        'IL NIL NIL "7bit" 51 (NIL "first" ((NIL NIL "one" "example.org")) ((NIL NIL "one'
        '" "example.org")) ((NIL NIL "one" "example.org")) NIL NIL NIL NIL NIL) ("text" "'
        'plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL NIL NIL) 4 NIL NIL NIL'
        ' NIL) ("message" "rfc822" NIL NIL NIL "7bit" 53 (NIL "second" ((NIL NIL "two" "e'
        'xample.org")) ((NIL NIL "two" "example.org")) ((NIL NIL "two" "example.org")) NI'
        'L NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NI'
        'L NIL NIL NIL) 4 NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 13 1 NIL NI'
        'L NIL NIL) "digest" ("boundary" "dig") NIL NIL NIL) "mixed" ("boundary" "top") N'
        "IL NIL NIL)"
    ),
    ("DIGEST", "b"): (
        '(("text" "plain" NIL NIL NIL "7bit" 14 1) (("message" "rfc822" NIL NIL NIL "7bit'
        '" 51 (NIL "first" ((NIL NIL "one" "example.org")) ((NIL NIL "one" "example.org")'
        ') ((NIL NIL "one" "example.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset'
        '" "us-ascii") NIL NIL "7bit" 10 1) 4) ("message" "rfc822" NIL NIL NIL "7bit" 53 '
        '(NIL "second" ((NIL NIL "two" "example.org")) ((NIL NIL "two" "example.org")) (('
        'NIL NIL "two" "example.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "u'
        's-ascii") NIL NIL "7bit" 11 1) 4) ("text" "plain" NIL NIL NIL "7bit" 13 1) "dige'
        'st") "mixed")'
    ),
}
