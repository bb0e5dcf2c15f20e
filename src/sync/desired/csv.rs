//! CSV records (RFC 4180): fields separated by `,`, records by `\n` or `\r\n`, a field in
//! double quotes may hold `,`, line breaks and `""` (one quote). Blank lines are skipped.
//! Each record comes with the number of the line it starts on, counted from 1, and a record
//! that cannot be read is an error for that line (reading goes on at the next line).

/// The records of a CSV text.
pub struct Records<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    at: usize,
    /// The line `at` is on.
    line: usize,
}

impl<'t> Records<'t> {
    pub fn new(text: &'t str) -> Records<'t> {
        Records {
            text,
            at: 0,
            line: 1,
        }
    }

    /// Move past the end of the current line.
    fn skip_line(&mut self) {
        match self.text[self.at..].find('\n') {
            Some(end) => {
                self.at += end + 1;
                self.line += 1;
            }
            None => self.at = self.text.len(),
        }
    }

    /// One record from `at`, which is not on a blank line.
    fn record(&mut self) -> Result<Vec<String>, String> {
        let bytes = self.text.as_bytes();
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if bytes.get(self.at) == Some(&b'"') {
                self.at += 1;
                loop {
                    let rest = &self.text[self.at..];
                    let Some(quote) = rest.find('"') else {
                        self.at = self.text.len();
                        return Err("a quoted field is never closed".into());
                    };
                    field.push_str(&rest[..quote]);
                    self.line += rest[..quote].matches('\n').count();
                    self.at += quote + 1;
                    if bytes.get(self.at) == Some(&b'"') {
                        field.push('"');
                        self.at += 1;
                    } else {
                        break;
                    }
                }
                match bytes.get(self.at) {
                    None | Some(b',' | b'\n') => {}
                    Some(b'\r') if matches!(bytes.get(self.at + 1), None | Some(b'\n')) => {
                        self.at += 1;
                    }
                    Some(_) => return Err("a closing quote is followed by more text".into()),
                }
            } else {
                let rest = &self.text[self.at..];
                let end = rest.find([',', '\n']).unwrap_or(rest.len());
                let raw = rest[..end].strip_suffix('\r').unwrap_or(&rest[..end]);
                if raw.contains('"') {
                    return Err("a field that is not quoted holds a quote".into());
                }
                field.push_str(raw);
                self.at += end;
            }
            fields.push(field);
            match bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'\n') => {
                    self.at += 1;
                    self.line += 1;
                    return Ok(fields);
                }
                _ => return Ok(fields),
            }
        }
    }
}

impl Iterator for Records<'_> {
    /// The line the record starts on, and its fields or why it cannot be read.
    type Item = (usize, Result<Vec<String>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.at >= self.text.len() {
                return None;
            }
            let rest = &self.text[self.at..];
            let line_end = rest.find('\n').unwrap_or(rest.len());
            if rest[..line_end].trim().is_empty() {
                self.skip_line();
                continue;
            }
            let line = self.line;
            let record = self.record();
            if record.is_err() {
                // Go on at the next line, past what could not be read.
                self.skip_line();
            }
            return Some((line, record));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(usize, Result<Vec<String>, String>)> {
        Records::new(text).collect()
    }

    fn fields(items: &[&str]) -> Result<Vec<String>, String> {
        Ok(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn fields_records_and_line_numbers() {
        assert_eq!(
            records("a,b,c\r\n1,,3\n\n  \r\nx,\"y, \"\"z\"\"\",w\n"),
            vec![
                (1, fields(&["a", "b", "c"])),
                (2, fields(&["1", "", "3"])),
                (5, fields(&["x", "y, \"z\"", "w"])),
            ]
        );
        // The last record may lack its line break; an empty last field counts.
        assert_eq!(
            records("a,b\n1,"),
            vec![(1, fields(&["a", "b"])), (2, fields(&["1", ""]))]
        );
    }

    #[test]
    fn a_quoted_field_may_span_lines_and_the_next_record_knows_its_line() {
        assert_eq!(
            records("h1,h2\n\"two\nlines\",b\nc,d\n"),
            vec![
                (1, fields(&["h1", "h2"])),
                (2, fields(&["two\nlines", "b"])),
                (4, fields(&["c", "d"])),
            ]
        );
    }

    #[test]
    fn bad_records_are_errors_for_their_line_and_reading_goes_on() {
        let read = records("h\nab\"c\n\"x\"y\nok\n\"never closed\nmore\n");
        assert_eq!(read.len(), 5);
        assert_eq!(read[0], (1, fields(&["h"])));
        assert_eq!(
            read[1],
            (2, Err("a field that is not quoted holds a quote".into()))
        );
        assert_eq!(
            read[2],
            (3, Err("a closing quote is followed by more text".into()))
        );
        assert_eq!(read[3], (4, fields(&["ok"])));
        assert_eq!(read[4], (5, Err("a quoted field is never closed".into())));
    }
}
