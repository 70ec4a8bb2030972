package dev.tether.testsupport;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test method, or every test of a class (and of its nested classes), as one that makes a
 * Tether logger log at ERROR on purpose: {@link ErrorLogsExtension} then lets those lines pass and
 * forgets them after the test. Use it only where the ERROR line is the behaviour under test, or an
 * unavoidable consequence of it, and say which in {@link #value()}.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
public @interface ExpectErrorLogs {
  /** Why the test logs at ERROR. */
  String value();
}
