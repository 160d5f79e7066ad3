//! Names that pose: a display name must not pass for "Anonymous" (which
//! would make a persistent face's posts look like an anonymous author's)
//! nor for one of the instance's verified real names. Names are compared by
//! their *skeleton*: look-alike letters from other scripts, full-width
//! forms, digits and signs that read as letters, accents, invisible and
//! direction-changing characters and spacing are all folded away.

/// Characters that change direction or take no space: stripped from every
/// display name, local or remote, before it is stored or compared.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{061C}' // Arabic letter mark
        | '\u{FEFF}' // byte order mark
        | '\u{00AD}' // soft hyphen
        | '\u{180E}' // Mongolian vowel separator
        | '\u{034F}' // combining grapheme joiner
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
    )
}

/// A display name with its invisible and direction-changing characters
/// removed and its ends trimmed.
pub fn clean_display_name(s: &str) -> String {
    s.chars()
        .filter(|c| !is_invisible(*c))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The letter a look-alike stands for, or the character itself.
fn fold(c: char) -> Option<char> {
    // Full-width ASCII.
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    // Accents and other combining marks go.
    if matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{20D0}'..='\u{20FF}') {
        return None;
    }
    let folded = match c {
        // Cyrillic.
        'а' | 'А' => 'a',
        'в' | 'В' => 'b',
        'е' | 'Е' | 'ё' | 'Ё' => 'e',
        'о' | 'О' => 'o',
        'р' | 'Р' => 'p',
        'с' | 'С' => 'c',
        'у' | 'У' => 'y',
        'х' | 'Х' => 'x',
        'і' | 'І' | 'ӏ' | 'Ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'ѕ' | 'Ѕ' => 's',
        'ԁ' => 'd',
        'һ' | 'Һ' => 'h',
        'к' | 'К' => 'k',
        'м' | 'М' => 'm',
        'н' | 'Н' => 'h',
        'т' | 'Т' => 't',
        'п' => 'n',
        'ո' => 'n', // Armenian
        'ս' => 'u', // Armenian
        // Greek.
        'α' | 'Α' => 'a',
        'β' | 'Β' => 'b',
        'ε' | 'Ε' => 'e',
        'η' | 'Η' => 'n',
        'ι' | 'Ι' => 'i',
        'κ' | 'Κ' => 'k',
        'μ' | 'Μ' => 'm',
        'ν' | 'Ν' => 'v',
        'ο' | 'Ο' => 'o',
        'ρ' | 'Ρ' => 'p',
        'τ' | 'Τ' => 't',
        'υ' | 'Υ' => 'u',
        'χ' | 'Χ' => 'x',
        'ζ' | 'Ζ' => 'z',
        // Latin letters with a twin.
        'ı' | 'ℓ' | 'ǀ' => 'i',
        'ɑ' => 'a',
        'ʏ' => 'y',
        // Digits and signs read as letters.
        '0' => 'o',
        '1' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        _ => c,
    };
    Some(folded)
}

/// What a name reads as: folded look-alikes, lower case, letters and digits
/// only. Two names with one skeleton pass for each other.
pub fn skeleton(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().filter(|c| !is_invisible(*c)) {
        let Some(f) = fold(c) else { continue };
        for l in f.to_lowercase() {
            // Decomposed accents (é as e + ´) were dropped above; precomposed
            // Latin letters with accents read as their base letter.
            let base = match l {
                'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
                'ç' | 'ć' | 'č' => 'c',
                'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
                'ì'..='ï' | 'ī' | 'į' => 'i',
                'ñ' | 'ń' | 'ň' => 'n',
                'ò'..='ö' | 'ø' | 'ō' | 'ő' => 'o',
                'ù'..='ü' | 'ū' | 'ů' | 'ű' => 'u',
                'ý' | 'ÿ' => 'y',
                'ś' | 'š' => 's',
                'ź' | 'ż' | 'ž' => 'z',
                'l' => 'i',
                other => other,
            };
            if base.is_alphanumeric() {
                out.push(base);
            }
        }
    }
    out
}

/// Whether a display name passes for the name every anonymous face bears.
pub fn poses_as_anonymous(display_name: &str) -> bool {
    skeleton(display_name) == skeleton("Anonymous")
}

/// Whether a display name passes for one of `verified` (the instance's
/// verified real names, other than the face's own).
pub fn poses_as_one_of<'a>(
    display_name: &str,
    mut verified: impl Iterator<Item = &'a str>,
) -> bool {
    let own = skeleton(display_name);
    !own.is_empty() && verified.any(|v| skeleton(v) == own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_in_every_disguise() {
        let poses = [
            "Anonymous",
            "anonymous",
            "ANONYMOUS",
            "Anonymous ",
            " A n o n y m o u s",
            "Аnonymous",          // Cyrillic А
            "Anonymοus",          // Greek ο
            "Αnοnуmοus",          // Greek and Cyrillic
            "An0nym0us",          // digits
            "Anonymous\u{200B}",  // zero width
            "\u{202E}Anonymous",  // bidi override
            "Ａｎｏｎｙｍｏｕｓ", // full width
            "Anónymous",          // accent
            "Ano\u{0301}nymous",  // combining accent
            "anon-ymous!",
        ];
        for name in poses {
            assert!(poses_as_anonymous(name), "{name:?} was let through");
        }
        for name in [
            "Anonymous Bob",
            "Anon",
            "Night Owl",
            "Anonymously yours",
            "",
        ] {
            assert!(!poses_as_anonymous(name), "{name:?} was refused");
        }
    }

    #[test]
    fn verified_names_and_clean_display_names() {
        let verified = ["Real Person 1", "Ada Lovelace"];
        assert!(poses_as_one_of("Ada Lovelace", verified.iter().copied()));
        assert!(poses_as_one_of("Аda Lovеlace", verified.iter().copied()));
        assert!(poses_as_one_of("ada  lovelace.", verified.iter().copied()));
        assert!(!poses_as_one_of("Ada L.", verified.iter().copied()));
        assert!(!poses_as_one_of("", verified.iter().copied()));
        assert_eq!(
            clean_display_name("\u{202E}evil\u{2066} name\u{200B} "),
            "evil name"
        );
    }
}
